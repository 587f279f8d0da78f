/* A Modbus TCP server on libmodbus (Debian's libmodbus-dev): a device the project did not write,
 * for tests/ingest/test_libmodbus.py.
 *
 *   cc -O2 -o libmodbus_server libmodbus_server.c $(pkg-config --cflags --libs libmodbus)
 *   ./libmodbus_server PORT        (PORT 0: the kernel picks a free one)
 *
 * Listens on 127.0.0.1, prints "listening on 127.0.0.1:PORT" once it accepts connections, then
 * serves any number of clients at once (a select loop) until killed.
 *
 * Register map, holding and input tables alike unless said otherwise:
 *   0..79     the fixture table below: eight values, one per data type, each laid out in the four
 *             orders ABCD, CDAB, BADC, DCBA (types outer, orders inner, packed from address 0).
 *             This file encodes them itself (memcpy of the C value, then big-endian bytes, then
 *             the order's swaps), independently of the Python code under test.
 *   80..89    holding only: undefined. Any read or write touching them answers exception 2
 *             (ILLEGAL DATA ADDRESS), as a meter with a hole in its register map does.
 *   90..93    holding only: the tail: uint16 4242 at 90, int32 -2 (ABCD) at 91..92, 0 at 93.
 *   200..201  holding only: always answer exception 4 (SERVER DEVICE FAILURE).
 *   300..     outside libmodbus's mapping: libmodbus itself answers exception 2.
 */
#include <errno.h>
#include <modbus.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#define N_REGISTERS 300
#define HOLE_START 80
#define HOLE_END 90 /* exclusive */
#define FAIL_START 200
#define FAIL_END 202 /* exclusive */

enum type { INT16, UINT16, INT32, UINT32, INT64, UINT64, FLOAT32, FLOAT64 };
enum order { ABCD, CDAB, BADC, DCBA };

struct fixture {
    enum type type;
    int words;
    int64_t i;  /* the value of the integer types */
    uint64_t u; /* UINT64 only */
    double f;   /* the value of the float types */
};

/* The same values, in the same order, as VALUES in test_libmodbus.py. */
static const struct fixture FIXTURES[] = {
    {INT16, 1, -12345, 0, 0},
    {UINT16, 1, 0xA1B2, 0, 0},
    {INT32, 2, -123456789, 0, 0},
    {UINT32, 2, 0xDEADBEEF, 0, 0},
    {INT64, 4, -1234567890123456789LL, 0, 0},
    {UINT64, 4, 0, 0xFEDCBA9876543210ULL, 0},
    {FLOAT32, 2, 0, 0, 3.1415927410125732}, /* float32 nearest pi, exactly representable */
    {FLOAT64, 4, 0, 0, -2.718281828459045},
};

/* The value's bytes, most significant first (A B C D ...). */
static void big_endian(const struct fixture *fx, uint8_t *out) {
    uint64_t bits = 0;
    switch (fx->type) {
    case INT16: case UINT16: case INT32: case UINT32: case INT64:
        bits = (uint64_t)fx->i;
        break;
    case UINT64:
        bits = fx->u;
        break;
    case FLOAT32: {
        float f = (float)fx->f;
        uint32_t b32;
        memcpy(&b32, &f, sizeof b32);
        bits = b32;
        break;
    }
    case FLOAT64:
        memcpy(&bits, &fx->f, sizeof bits);
        break;
    }
    int n = 2 * fx->words;
    for (int k = 0; k < n; k++)
        out[k] = (uint8_t)(bits >> (8 * (n - 1 - k)));
}

/* The registers a device with ``order`` holds: CDAB/DCBA reverse the words, BADC/DCBA swap the
 * two bytes inside each word. */
static int lay_out(const struct fixture *fx, enum order order, uint16_t *regs) {
    uint8_t be[8];
    big_endian(fx, be);
    int words_swapped = order == CDAB || order == DCBA;
    int bytes_swapped = order == BADC || order == DCBA;
    for (int w = 0; w < fx->words; w++) {
        int src = words_swapped ? fx->words - 1 - w : w;
        uint8_t hi = be[2 * src], lo = be[2 * src + 1];
        regs[w] = bytes_swapped ? (uint16_t)(lo << 8 | hi) : (uint16_t)(hi << 8 | lo);
    }
    return fx->words;
}

static int overlaps(int start, int count, int lo, int hi) {
    return start < hi && start + count > lo;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", atoi(argv[1]));
    modbus_mapping_t *map = modbus_mapping_new(0, 0, N_REGISTERS, N_REGISTERS);
    if (ctx == NULL || map == NULL) {
        fprintf(stderr, "libmodbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    int address = 0;
    for (size_t t = 0; t < sizeof FIXTURES / sizeof FIXTURES[0]; t++)
        for (int o = ABCD; o <= DCBA; o++)
            address += lay_out(&FIXTURES[t], (enum order)o, map->tab_registers + address);
    memcpy(map->tab_input_registers, map->tab_registers, (size_t)address * sizeof(uint16_t));
    map->tab_registers[90] = 4242;
    map->tab_registers[91] = 0xFFFF;
    map->tab_registers[92] = 0xFFFE;

    int listener = modbus_tcp_listen(ctx, 16);
    if (listener < 0) {
        fprintf(stderr, "listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    getsockname(listener, (struct sockaddr *)&bound, &len);
    printf("listening on 127.0.0.1:%d\n", ntohs(bound.sin_port));
    fflush(stdout);

    fd_set clients;
    FD_ZERO(&clients);
    FD_SET(listener, &clients);
    int max_fd = listener;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    int header = modbus_get_header_length(ctx);
    for (;;) {
        fd_set ready = clients;
        if (select(max_fd + 1, &ready, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            perror("select");
            return 1;
        }
        for (int fd = 0; fd <= max_fd; fd++) {
            if (!FD_ISSET(fd, &ready))
                continue;
            if (fd == listener) {
                int client = accept(listener, NULL, NULL);
                if (client >= 0) {
                    FD_SET(client, &clients);
                    if (client > max_fd)
                        max_fd = client;
                }
                continue;
            }
            modbus_set_socket(ctx, fd);
            int rc = modbus_receive(ctx, query);
            if (rc < 0) { /* closed by the client, or a broken frame: drop the connection */
                close(fd);
                FD_CLR(fd, &clients);
                continue;
            }
            if (rc == 0)
                continue;
            int function = query[header];
            int start = query[header + 1] << 8 | query[header + 2];
            int count = 1;
            if (function == MODBUS_FC_READ_HOLDING_REGISTERS ||
                function == MODBUS_FC_READ_INPUT_REGISTERS ||
                function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS)
                count = query[header + 3] << 8 | query[header + 4];
            int holding = function == MODBUS_FC_READ_HOLDING_REGISTERS ||
                          function == MODBUS_FC_WRITE_SINGLE_REGISTER ||
                          function == MODBUS_FC_WRITE_MULTIPLE_REGISTERS;
            if (holding && overlaps(start, count, HOLE_START, HOLE_END))
                rc = modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
            else if (holding && overlaps(start, count, FAIL_START, FAIL_END))
                rc = modbus_reply_exception(ctx, query, MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE);
            else
                rc = modbus_reply(ctx, query, rc, map);
            if (rc < 0) {
                close(fd);
                FD_CLR(fd, &clients);
            }
        }
    }
}
