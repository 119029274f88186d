"""The HTTP edge: authentication, request schemas, error mapping, the OpenAPI document."""
