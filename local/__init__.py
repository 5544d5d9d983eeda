"""The local stack: both APIs, an embedded DynamoDB/S3 and a JWT issuer on 127.0.0.1."""
