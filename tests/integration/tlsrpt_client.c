/* A TLSRPT client as Postfix 3.10's smtp(8) is one: it reports TLS session
 * results through Debian's libtlsrpt0 (the real client library, loaded from the
 * Debian 13 root the test runs it in), one delivery request and datagram per
 * session, to mtastsd's socket. Used by test_tlsrpt_collect.py.
 *
 *   tlsrpt_client SOCKET DOMAIN RECORD SUCCESSES FAILURES NO_POLICY
 *
 * sends SUCCESSES successful sts sessions, FAILURES failed sts sessions (one
 * certificate-host-mismatch failure detail each, every detail field set) and
 * NO_POLICY successful no-policy-found sessions for DOMAIN, whose TLSRPT record
 * is RECORD. Exit 0 after all were sent, 1 with libtlsrpt's error text on the
 * first failure, 2 on bad arguments.
 *
 * The prototypes are those of libtlsrpt's tlsrpt.h (API of 0.5.0rc1, the version
 * in Debian 13; sys4/libtlsrpt), declared here so that the program builds where
 * only the shared library is installed (libtlsrpt-dev is not). */
#include <stdio.h>
#include <stdlib.h>

struct tlsrpt_connection_t;
struct tlsrpt_dr_t;
enum { TLSRPT_POLICY_STS = 2, TLSRPT_NO_POLICY_FOUND = 9 };
enum { TLSRPT_FINAL_SUCCESS = 0, TLSRPT_FINAL_FAILURE = 1 };
enum { TLSRPT_CERTIFICATE_HOST_MISMATCH = 202 };

int tlsrpt_open(struct tlsrpt_connection_t** pcon, const char* socketname);
int tlsrpt_close(struct tlsrpt_connection_t** pcon);
int tlsrpt_init_delivery_request(struct tlsrpt_dr_t** pdr, struct tlsrpt_connection_t* con, const char* domainname,
                                 const char* policyrecord);
int tlsrpt_finish_delivery_request(struct tlsrpt_dr_t** pdr);
int tlsrpt_init_policy(struct tlsrpt_dr_t* dr, int policy_type, const char* policydomainname);
int tlsrpt_finish_policy(struct tlsrpt_dr_t* dr, int final_result);
int tlsrpt_add_policy_string(struct tlsrpt_dr_t* dr, const char* policy_string);
int tlsrpt_add_mx_host_pattern(struct tlsrpt_dr_t* dr, const char* mx_host_pattern);
int tlsrpt_add_delivery_request_failure(struct tlsrpt_dr_t* dr, int failure_code, const char* sending_mta_ip,
                                        const char* receiving_mx_hostname, const char* receiving_mx_helo,
                                        const char* receiving_ip, const char* additional_information,
                                        const char* failure_reason_code);
const char* tlsrpt_strerror(int errorcode);
/* Postfix sends with MSG_DONTWAIT (a full socket queue drops the datagram); the
 * test sends a burst and counts exactly, so it waits instead. */
void tlsrpt_set_blocking(void);

static int check(int rc, const char* what) {
  if (rc != 0) {
    fprintf(stderr, "tlsrpt_client: %s: %s (%d)\n", what, tlsrpt_strerror(rc), rc);
    exit(1);
  }
  return rc;
}

/* One session: one delivery request with one policy, as Postfix reports a handshake. */
static void send_session(struct tlsrpt_connection_t* con, const char* domain, const char* record, int policy_type,
                         int failed) {
  struct tlsrpt_dr_t* dr = NULL;
  check(tlsrpt_init_delivery_request(&dr, con, domain, record), "tlsrpt_init_delivery_request");
  check(tlsrpt_init_policy(dr, policy_type, domain), "tlsrpt_init_policy");
  if (policy_type == TLSRPT_POLICY_STS) {
    check(tlsrpt_add_policy_string(dr, "version: STSv1"), "tlsrpt_add_policy_string");
    check(tlsrpt_add_policy_string(dr, "mode: enforce"), "tlsrpt_add_policy_string");
    check(tlsrpt_add_mx_host_pattern(dr, "*.mx.example"), "tlsrpt_add_mx_host_pattern");
  }
  if (failed)
    check(tlsrpt_add_delivery_request_failure(dr, TLSRPT_CERTIFICATE_HOST_MISMATCH, "192.0.2.1", "mx1.mx.example",
                                              "mx1.mx.example ESMTP", "198.51.100.7", "https://sender.example/why",
                                              "hostname mismatch"),
          "tlsrpt_add_delivery_request_failure");
  check(tlsrpt_finish_policy(dr, failed ? TLSRPT_FINAL_FAILURE : TLSRPT_FINAL_SUCCESS), "tlsrpt_finish_policy");
  check(tlsrpt_finish_delivery_request(&dr), "tlsrpt_finish_delivery_request");
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: tlsrpt_client SOCKET DOMAIN RECORD SUCCESSES FAILURES NO_POLICY\n");
    return 2;
  }
  const char* socket_name = argv[1];
  const char* domain = argv[2];
  const char* record = argv[3];
  const int successes = atoi(argv[4]), failures = atoi(argv[5]), no_policy = atoi(argv[6]);

  tlsrpt_set_blocking();
  struct tlsrpt_connection_t* con = NULL;
  check(tlsrpt_open(&con, socket_name), "tlsrpt_open");
  for (int i = 0; i < successes; ++i) send_session(con, domain, record, TLSRPT_POLICY_STS, 0);
  for (int i = 0; i < failures; ++i) send_session(con, domain, record, TLSRPT_POLICY_STS, 1);
  for (int i = 0; i < no_policy; ++i) send_session(con, domain, record, TLSRPT_NO_POLICY_FOUND, 0);
  check(tlsrpt_close(&con), "tlsrpt_close");
  printf("sent %d\n", successes + failures + no_policy);
  return 0;
}
