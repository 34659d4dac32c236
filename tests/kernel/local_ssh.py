"""A stand-in for ssh that runs the remote command on this machine: ``local_ssh.py [-T] HOST COMMAND``.

The bridge's stdio is then carried by plain pipes (no ssh, no network): used where sshd is not wanted (the
user-mode-linux guest) and to test the bridge's framing without a login.
"""

import os
import sys

args = [a for a in sys.argv[1:] if a != "-T"]
if len(args) != 2:
    sys.stderr.write("usage: local_ssh.py [-T] HOST COMMAND\n")
    sys.exit(255)
os.execvp("sh", ["sh", "-c", args[1]])
