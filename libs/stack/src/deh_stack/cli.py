"""`deh-stack up|down|status|logs|clean|env`: the local hub on real servers."""

from __future__ import annotations

import argparse
import sys
import time

from deh_platform.auth import issue_token
from deh_platform.settings import ServiceSettings
from deh_stack.config import StackConfig
from deh_stack.demo import load_demo
from deh_stack.docker import Engine, hub_images
from deh_stack.errors import StackError
from deh_stack.process import tail
from deh_stack.stack import SERVERS, Stack, Status, container_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deh-stack", description=__doc__)
    parser.add_argument("--profile", default="local", choices=["local", "test"], help="port set and data folder")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="fetch (once) and start the servers and services, then wait until ready")
    up.add_argument("--servers-only", action="store_true", help="start Kafka, OpenSearch and MongoDB only")
    up.add_argument("--no-demo", action="store_true", help="do not load the demo data")
    commands.add_parser("down", help="stop everything cleanly")
    commands.add_parser("status", help="what runs and where")
    logs = commands.add_parser("logs", help="the last lines of each log")
    logs.add_argument("name", nargs="?", help="one server or service")
    logs.add_argument("-n", "--lines", type=int, default=40)
    commands.add_parser("clean", help="stop and delete data and logs (downloads stay cached)")
    commands.add_parser("env", help="print the variables that point services and tests at the servers")
    token = commands.add_parser("token", help="print a bearer token for trying the local APIs")
    token.add_argument("--member", default="demo-admin")
    token.add_argument(
        "--roles", default="admin,moderator", help="comma-separated: member, moderator, nas_coordinator, admin"
    )
    serve = commands.add_parser("serve", help="become one server, in the foreground (an image's main process)")
    serve.add_argument("server", choices=SERVERS)
    ready = commands.add_parser("ready", help="exit 0 when one server answers (an image's health check)")
    ready.add_argument("server", choices=SERVERS)
    images = commands.add_parser(
        "images", help="build every image of deploy/compose.yaml on the Docker engine DOCKER_HOST names (decision 0022)"
    )
    images.add_argument("--version", default="0.1.0", help="the services' image tag (DEH_VERSION)")
    args = parser.parse_args(argv)

    try:
        if args.command == "serve":
            container_server(StackConfig.from_env(args.profile), args.server).replace_this_process()
        if args.command == "ready":
            return 0 if container_server(StackConfig.from_env(args.profile), args.server).is_ready() else 1
        if args.command == "images":
            print("\n".join(hub_images(Engine.of_environment(), args.version)))
            return 0
        return _run(Stack(StackConfig.from_env(args.profile)), args)
    except StackError as error:
        print(f"deh-stack: {error}", file=sys.stderr)
        return 1


def _run(stack: Stack, args: argparse.Namespace) -> int:
    if args.command == "up":
        began = time.monotonic()
        statuses = stack.up(with_services=not args.servers_only)
        _print_status(statuses)
        if not (args.servers_only or args.no_demo):
            print(load_demo(stack.config))
        print(f"\nready in {time.monotonic() - began:.0f}s; data and logs under {stack.config.home}")
    elif args.command == "down":
        stopped = stack.down()
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    elif args.command == "status":
        _print_status(stack.status())
    elif args.command == "logs":
        for member in [*stack.servers, *stack.services]:
            if args.name in (None, member.name):
                print(f"==> {member.process.log_file} <==\n{tail(member.process.log_file, args.lines)}\n")
    elif args.command == "clean":
        stack.clean()
        print(f"removed {stack.config.home}")
    elif args.command == "token":
        settings = ServiceSettings(service_name="cli", auth_secret=stack.config.auth_secret())
        print(issue_token(settings, args.member, args.roles.split(",")))
    elif args.command == "env":
        for key, value in stack.config.server_env().items():
            print(f"export {key}={value}")
    return 0


def _print_status(statuses: list[Status]) -> None:
    for status in statuses:
        pid = status.pid if status.pid is not None else "-"
        print(f"{status.name:<12} {status.state:<9} {status.address:<28} pid {pid}")


if __name__ == "__main__":
    sys.exit(main())
