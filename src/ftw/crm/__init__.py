"""CRM: a contractor's customers, interactions and follow-up sequences."""
