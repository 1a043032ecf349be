"""Elasticsearch index templates (JSON) and the lifecycle policy, loaded by index.elastic."""
