#!/usr/bin/env bash
# The fleet role on localhost: every entry point, check mode, idempotence, the
# report files, and declarations rejected before the host is contacted.
set -eux
ansible-playbook -i "${INVENTORY_PATH}" entry_points.yml -e "work_dir=${OUTPUT_DIR}/fleet_role" "$@"
ansible-playbook -i "${INVENTORY_PATH}" bad_declarations.yml -e "work_dir=${OUTPUT_DIR}/fleet_role" "$@"
ansible-playbook -i "${INVENTORY_PATH}" hostile_report.yml -e "work_dir=${OUTPUT_DIR}/fleet_role" "$@"
python check_hostile_report.py "${OUTPUT_DIR}/fleet_role/hostile-report"
