#!/usr/bin/env python3
"""Writes the options of Apple's `container` commands, per release, as the
contract test (runtime-apple/tests/cli_contract.rs) reads them.

Usage: scripts/apple-cli-options.py APPLE_CONTAINER_GIT_DIR TAG... > \
           runtime-apple/tests/fixtures/apple-cli-options.txt

For each tag it reads docs/command-reference.md (Apple's command reference) and
lists, per command (and under its alias too, such as `ls` for `list`), each
option name; a name that takes a value ends in `=` (the 0.12 reference shows
`--runtime` without its value).
Where a release's reference misses an option that its sources define, add it to
SUPPLEMENTS with the source file that defines it.
"""

import re
import subprocess
import sys

# (first tag, last tag, command, options, where the sources define them)
SUPPLEMENTS = [
    ("0.12.0", "0.12.3", "create", ["--ulimit="],
     "Sources/Services/ContainerAPIService/Client/Flags.swift"),
    ("0.12.0", "0.12.3", "network create", ["--internal"],
     "Sources/ContainerCommands/Network/NetworkCreate.swift"),
]

HEADING = re.compile(r"^###\s+`container ([a-z0-9 -]+?)(?: \(([a-z]+)\))?`")
OPTION = re.compile(r"^\*\s+`(-[^`]+)`")


def version_key(tag):
    return tuple(int(p) for p in tag.split("."))


def options_of(text):
    commands = {}
    current = None
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1).strip()
            names = [current]
            if heading.group(2):
                names.append(" ".join(current.split()[:-1] + [heading.group(2)]))
            for name in names:
                commands.setdefault(name, set())
            continue
        if line.startswith("## "):
            current = None
        option = OPTION.match(line)
        if current and option:
            spec = option.group(1)
            takes_value = "<" in spec or spec.split(",")[-1].strip().startswith("--runtime")
            for name in spec.split("<")[0].split(","):
                name = name.strip()
                if name.startswith("-"):
                    for command in names:
                        commands[command].add(name + ("=" if takes_value else ""))
    return commands


def main():
    git_dir, tags = sys.argv[1], sys.argv[2:]
    print("# Options of Apple's `container` commands per release, from its command")
    print("# reference (docs/command-reference.md), written by scripts/apple-cli-options.py.")
    print("# A name ending in `=` takes a value. Every release berth supports is listed.")
    for tag in sorted(tags, key=version_key):
        text = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{tag}:docs/command-reference.md"],
            check=True, capture_output=True, text=True,
        ).stdout
        commands = options_of(text)
        for first, last, command, options, source in SUPPLEMENTS:
            if version_key(first) <= version_key(tag) <= version_key(last):
                commands.setdefault(command, set()).update(options)
                print(f"# {tag}: {command} {' '.join(options)} from {source}")
        print(f"[{tag}]")
        for command in sorted(commands):
            print(f"{command}: {' '.join(sorted(commands[command]))}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
