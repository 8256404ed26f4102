-- Placeholder on branch `top` only, so that 0007 applies in order here: the real 0005 comes
-- from another branch. Delete this file when merging. (A table, not a bare comment: a
-- migration that can run twice would let a second process reset user_version to 5.)
CREATE TABLE placeholder_0005_top (unused INTEGER);
