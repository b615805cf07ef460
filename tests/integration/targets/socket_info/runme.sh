#!/usr/bin/env bash
# socket_info against a listener in an ip-netns namespace: check mode -> run -> assert,
# filters, then bad input.
set -eux
ansible-playbook -i "${INVENTORY_PATH}" module.yml "$@"
