/* omni-sim's webhook signatures (sim/webhook.c): Standard Webhooks' HMAC-SHA256
 * over "ID.TIMESTAMP.BODY", checked against the scheme's published example and
 * values computed with Node's crypto (a key above one SHA-256 block, a body of
 * several blocks), and the whsec_ key decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../sim/sim.h"

static void test_sign_known(void **state)
{
    (void)state;
    unsigned char key[128];
    char sig[64];
    long n = simwebhook_key_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, sizeof(key));
    assert_int_equal(n, 24);
    assert_int_equal(simwebhook_sign(key, (size_t)n, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                     "{\"test\": 2432232314}", sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_sign_long_key_and_body(void **state)
{
    (void)state;
    unsigned char key[128];
    char sig[64], body[201];
    memset(key, 7, 100);
    memset(body, 'x', 200);
    body[200] = '\0';
    assert_int_equal(simwebhook_sign(key, 100, "wevt_1", "1700000000", body, sig, sizeof(sig)), 0);
    assert_string_equal(sig, "v1,p2IHcTYG9WiqlzYBaT7cBweH5pHytFAUA7gV3prQKR0=");
    assert_int_equal(simwebhook_sign(key, 100, "wevt_1", "1700000000", body, sig, 10), -1);
}

static void test_key_decode(void **state)
{
    (void)state;
    unsigned char key[16];
    assert_int_equal(simwebhook_key_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key, sizeof(key)),
                     -1);
    assert_int_equal(simwebhook_key_decode("whsec_not*base64", key, sizeof(key)), -1);
    assert_int_equal(simwebhook_key_decode("whsec_MDEyMzQ1Njc4OWFiY2RlZg==", key, sizeof(key)), 16);
    assert_memory_equal(key, "0123456789abcdef", 16);
    assert_int_equal(simwebhook_key_decode("whsec_MDEyMzQ1Njc4OWFiY2RlZmc=", key, sizeof(key)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known),
        cmocka_unit_test(test_sign_long_key_and_body),
        cmocka_unit_test(test_key_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
