# contact messages
