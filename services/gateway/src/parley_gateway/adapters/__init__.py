"""Adapters of the gateway's ports: MongoDB (discussions) and Kafka (commands)."""
