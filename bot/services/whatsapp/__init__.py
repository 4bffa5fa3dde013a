"""What only WhatsApp needs of the database: its 24-hour window and templates, and its webhook inbox.

The adapter (bot/channels/whatsapp.py) speaks to Meta and holds no SQL; these use cases do the rest.
"""
