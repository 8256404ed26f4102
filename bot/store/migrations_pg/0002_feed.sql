-- PostgreSQL schema: to be written (issue 11).
SELECT 1;
