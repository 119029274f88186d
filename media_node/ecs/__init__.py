"""What a node does only on ECS: its identity from the task, and task scale-in protection."""
