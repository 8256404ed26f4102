"""All SQL lives here: the connection, numbered migrations, one repository per table family."""
