"""The real SAD and SPD over XFRM netlink, spoken as PF_KEY v2: Linux's af_key, in user space.

``netlink.py`` and ``structs.py`` are the sans-I/O netlink and XFRM codec, ``algs.py`` the algorithm names,
``to_xfrm.py`` turns PF_KEY requests into XFRM requests, ``to_pfkey.py`` turns XFRM states, policies and
notifications into the PF_KEY messages af_key would have sent (with what PF_KEY cannot say kept beside them,
``notes.py``), and ``transport.py`` is the socket transport.
"""
