"""The hooks service: task events delivered to registered receivers as Standard Webhooks."""
