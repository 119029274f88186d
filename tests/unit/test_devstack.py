from devstack.process import free_port


def test_free_port_is_on_loopback_and_bindable():
    import socket
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert s.getsockname() == ("127.0.0.1", port)


def test_the_banners_export_line_names_this_stack_even_over_a_stale_environment():
    import shlex

    from devstack.run import export_line
    env = {"DROPON_CONTROL_URL": "http://127.0.0.1:8000", "DROPON_API_URL": "http://stale",
           "DROPON_WS_URL": "ws://127.0.0.1:8001", "DROPON_API_KEY": "dev-1",
           "DROPON_API_SECRET": "s3cret with space"}
    words = shlex.split(export_line(env))
    assert words[0] == "export" and dict(w.split("=", 1) for w in words[1:]) == {
        "DROPON_API_URL": "http://127.0.0.1:8000", "DROPON_WS_URL": "ws://127.0.0.1:8001",
        "DROPON_API_KEY": "dev-1", "DROPON_API_SECRET": "s3cret with space"}
