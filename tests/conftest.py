pytest_plugins = ["tests.dovecot"]
