"""ftaudit's built-in rule catalogue, installed as ``ftaudit.rules``: one module per rule family."""
