#!/usr/bin/env bash
# Installs (when missing) and starts the services the tests talk to, on 127.0.0.1:
# PostgreSQL 5432 (user postgres, trust), MariaDB 3306 (root, empty password), Redis 6379.
# Works without systemd; safe to run again when they already run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mysqld_safe >/dev/null || need+=(mariadb-server)
command -v chromium >/dev/null || need+=(chromium)
python3 -c 'import sentry_sdk' 2>/dev/null || [ -f /usr/lib/python3/dist-packages/sentry_sdk/__init__.py ] || need+=(python3-sentry-sdk)
command -v wrk >/dev/null || need+=(wrk)
# Release checks (test/release, test/deploy): the arm64 file under qemu with arm64 glibc, musl's
# loader, readelf, and systemd-analyze for the unit.
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need+=(libc6-arm64-cross)
[ -e /lib/ld-musl-x86_64.so.1 ] || need+=(musl)
command -v readelf >/dev/null || need+=(binutils)
command -v systemd-analyze >/dev/null || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Redis, with persistence on (appendonly) so the restart tests can show nothing is lost.
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/cyclops-redis
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --dir /var/lib/cyclops-redis \
    --appendonly yes --appendfsync everysec --save "" --logfile /var/lib/cyclops-redis/redis.log
fi

# Redis Cluster: 3 masters and 3 replicas on 7000-7005 (cluster bus on 17000-17005), for the
# contract suites on a cluster. A node restarted later rejoins from its nodes.conf; the cluster is
# created only while the first node knows no other.
cluster_ports=(7000 7001 7002 7003 7004 7005)
for port in "${cluster_ports[@]}"; do
  if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
    dir=/var/lib/cyclops-redis-cluster/$port
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 2000 --appendonly yes --appendfsync everysec \
      --save "" --logfile "$dir/redis.log"
  fi
done
for _ in $(seq 1 40); do redis-cli -h 127.0.0.1 -p 7005 ping >/dev/null 2>&1 && break; sleep 0.25; done
if [ "$(redis-cli -h 127.0.0.1 -p 7000 cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = "1" ]; then
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${cluster_ports[@]}") --cluster-replicas 1 --cluster-yes >/dev/null
fi
for _ in $(seq 1 60); do
  redis-cli -h 127.0.0.1 -p 7000 cluster info | grep -q '^cluster_state:ok' && break
  sleep 0.5
done

# PostgreSQL: trust on 127.0.0.1 (Debian's default asks for a password).
pgver=$(ls /etc/postgresql | sort -n | tail -1)
hba=/etc/postgresql/$pgver/main/pg_hba.conf
if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
  sed -i '/^host/d' "$hba"
  printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >> "$hba"
  pg_ctlcluster "$pgver" main reload 2>/dev/null || true
fi
pg_ctlcluster "$pgver" main status >/dev/null 2>&1 || pg_ctlcluster "$pgver" main start

# MariaDB: root over TCP with no password.
if ! mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  (mysqld_safe --bind-address=127.0.0.1 --port=3306 >/dev/null 2>&1 &)
  for _ in $(seq 1 60); do mysqladmin -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); \
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;" || true
fi

for _ in $(seq 1 60); do
  redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -q && mysqladmin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && break
  sleep 0.5
done
redis-cli -h 127.0.0.1 ping >/dev/null && echo "services: redis up"
redis-cli -h 127.0.0.1 -p 7000 cluster info | grep -q '^cluster_state:ok' && echo "services: redis cluster up (7000-7005)"
pg_isready -h 127.0.0.1 -q && psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null && echo "services: postgresql up"
mysql -h 127.0.0.1 -uroot -e 'select 1' >/dev/null && echo "services: mariadb up"
