"""marshmallow schemas: the wire format of the JSON API, one module per noun."""
