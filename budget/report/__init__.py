"""Report formats: the JSON document, a terminal table and Markdown for pull-request comments."""
