pytest_plugins = ["tests.dovecot", "tests.smtp_server"]
