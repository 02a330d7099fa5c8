#!/usr/bin/env bash
# The layout rules (tests/tools/layout-check): lib/ depends on no program,
# programs share code only through lib/, no include cycle, every header
# opens with its contract. The checker is shown to catch each breach.
. "$(dirname "$0")/../lib.sh"

check=$TOP/tests/tools/layout-check
out=$("$check" "$TOP" 2>&1)
is "the tree keeps the layout rules" "$?" 0
is "  and says nothing" "$out" ""

# A scratch copy with one breach of each kind.
mkdir -p "$T/tree"
for d in lib admin console worker sim; do cp -r "$TOP/$d" "$T/tree/$d"; done
printf '#include "ctx.h"\n' >>"$T/tree/lib/hash.c"
printf '#include "net.h"\n' >>"$T/tree/admin/cmd_stop.c"
printf '#include "b.h"\n' >"$T/tree/sim/a.h"
printf '/* b */\n#include "a.h"\n' >"$T/tree/sim/b.h"
sed -i '1s|^|#define X 1\n|' "$T/tree/lib/health.h"
out=$("$check" "$T/tree" 2>&1)
is "a breach fails the check" "$?" 1
like "  lib/ including a program's header" "$out" 'lib/hash.c includes admin/ctx.h: lib/ must not depend on a program'
like "  one program including another's" "$out" 'admin/cmd_stop.c includes console/net.h: programs share code only through lib/'
like "  an include cycle" "$out" 'include cycle: sim/a.h -> sim/b.h -> sim/a.h'
like "  a header without its contract" "$out" 'lib/health.h: does not open with a comment'
like "  the opening-comment rule covers every header" "$out" 'sim/a.h: does not open with a comment'

done_testing
