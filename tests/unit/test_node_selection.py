"""Which node a room gets: healthy, with a free seat, least loaded (no I/O)."""
from chalicelib.domain.nodes import NodeRecord, least_loaded
from chalicelib.persistence.nodes import InMemoryNodeRegistry


def node(node_id, participants=0, capacity=64, cpu=0.0, seen=100.0, streams=0):
    return NodeRecord(node_id=node_id, url=f"http://{node_id}", rooms=0,
                      participants=participants, streams=streams, cpu=cpu,
                      capacity=capacity, seen=seen, registered=seen)


def test_least_loaded_by_share_of_seats_then_cpu_then_id():
    nodes = [node("a", 10, 64), node("b", 4, 16), node("c", 8, 64, cpu=0.5),
             node("d", 8, 64, cpu=0.1)]
    # b is 25% full, a 15.6%, c and d 12.5%: d has less CPU
    assert least_loaded(nodes, 105.0, 15).node_id == "d"
    assert least_loaded([node("y"), node("x")], 105.0, 15).node_id == "x"


def test_dead_and_full_nodes_are_never_chosen():
    nodes = [node("dead", seen=80.0), node("full", 16, 16), node("ok", 15, 16)]
    assert least_loaded(nodes, 100.0, 15).node_id == "ok"
    assert least_loaded(nodes[:2], 100.0, 15) is None
    assert least_loaded([], 100.0, 15) is None


def test_health_boundary_is_inclusive():
    assert node("a", seen=85.0).healthy(100.0, 15)
    assert not node("a", seen=84.9).healthy(100.0, 15)


def test_in_memory_registry_keeps_the_first_registration_time():
    registry = InMemoryNodeRegistry()
    registry.save(node("a", seen=1.0))
    saved = registry.save(node("a", participants=3, seen=9.0))
    assert (saved.registered, saved.seen, saved.participants) == (1.0, 9.0, 3)
    assert registry.get("a") == saved and registry.get("b") is None
