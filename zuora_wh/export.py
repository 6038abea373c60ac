"""Placeholder: the export command is added with the BI issue."""


def add_parser(sub) -> None:
    return None
