# egress-lib.sh — the far side of the egress tests (t5420, t5440): a private
# CA, an upstream nginx answering https on $SP and http on $HP with
# "upstream <scheme> host=<host>", and dnsmasq on 127.0.0.1:$DP answering
# allowed.test, other.test and wild.test with 127.0.0.1 (no upstream). Source
# after tests/lib.sh; loopback only; bg's cleanup ends the servers.

# pick_port: a loopback port free for TCP and UDP
pick_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if command -v ss >/dev/null; then
            ss -Htuan "sport = :$p" 2>/dev/null | grep -q . && continue
        else
            (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        fi
        echo "$p"
        return 0
    done
    return 1
}

# ---- the private CA and the upstream servers ---------------------------------
mkdir -p "$T/pki" "$T/up"
pki() { (cd "$T/pki" && "$@") >>"$T/pki.log" 2>&1; }
pki openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -days 2 -subj /CN=omni-egress-test-ca
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    'DNS:allowed.test,DNS:other.test,DNS:wild.test,DNS:*.wild.test,IP:127.0.0.1' >"$T/pki/srv.ext"
pki openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr \
    -subj /CN=allowed.test
pki openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
    -extfile srv.ext
chmod 644 "$T/pki/ca.pem"
ok "private CA and a certificate for the upstream names" test -s "$T/pki/srv.pem"

# upstream_start: nginx on 127.0.0.1:$HP (http) and :$SP (https); retried on a port clash
for _ in 1 2 3 4 5; do
    HP=$(pick_port) SP=$(pick_port)
    cat >"$T/up/nginx.conf" <<EOF
daemon off; master_process off; pid $T/up/nginx.pid; error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/up/b; proxy_temp_path $T/up/p; fastcgi_temp_path $T/up/f;
    uwsgi_temp_path $T/up/u; scgi_temp_path $T/up/s;
    server {
        listen 127.0.0.1:$HP; listen 127.0.0.1:$SP ssl;
        ssl_certificate $T/pki/srv.pem; ssl_certificate_key $T/pki/srv.key;
        location / { default_type text/plain; return 200 "upstream \$scheme host=\$host\n"; }
    }
}
EOF
    bg nginx -p "$T/up/" -c "$T/up/nginx.conf" -e stderr 2>"$T/up/err.log"
    UP_PID=$BG_PID
    until_ok 5 curl -sf "http://127.0.0.1:$HP/" && break
    kill "$UP_PID" 2>/dev/null
done
ok "upstream https on 127.0.0.1:$SP" curl -sf --cacert "$T/pki/ca.pem" \
    --resolve "allowed.test:$SP:127.0.0.1" "https://allowed.test:$SP/"

for _ in 1 2 3 4 5; do
    DP=$(pick_port)
    : >"$T/dnsmasq.log"
    bg dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
        --listen-address=127.0.0.1 --port="$DP" --address=/allowed.test/127.0.0.1 \
        --address=/other.test/127.0.0.1 --address=/wild.test/127.0.0.1 \
        --pid-file="$T/dnsmasq.pid" --log-facility=- 2>"$T/dnsmasq.log"
    DNS_PID=$BG_PID
    until_ok 5 grep -q 'started' "$T/dnsmasq.log" && kill -0 "$DNS_PID" 2>/dev/null && break
    kill "$DNS_PID" 2>/dev/null
done
