"""Mail sources: where incoming mail is read from (IMAP or a local Maildir)."""
