-- Placeholder on branch `top` only, so that 0007 applies in order here: the real 0006 comes
-- from another branch. Delete this file when merging. (A table, not a bare comment: a
-- migration that can run twice would let a second process reset user_version to 6.)
CREATE TABLE placeholder_0006_top (unused INTEGER);
