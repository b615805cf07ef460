#!/usr/bin/env bash
# namespace_exec against a process in new namespaces (unshare) and an ip-netns namespace:
# check mode -> run -> assert, then bad input.
set -eux
ansible-playbook -i "${INVENTORY_PATH}" module.yml "$@"
