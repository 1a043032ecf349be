"""Odnoklassniki collector: official groups' topics and their comments through the OK REST API."""
