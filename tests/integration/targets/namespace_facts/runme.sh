#!/usr/bin/env bash
# Two playbooks: the module as a task (check mode -> run -> bad input), then the module
# inside gather_facts through FACTS_MODULES with options from module_defaults.
set -eux
ansible-playbook -i "${INVENTORY_PATH}" module.yml "$@"
ansible-playbook -i "${INVENTORY_PATH}" gather_facts.yml "$@"
