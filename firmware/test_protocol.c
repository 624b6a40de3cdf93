/*
 * Checks nanobot_esp32_protocol.h against the shared vectors file (the one the Python tests
 * check): `cc -std=c99 -Wall -Wextra -Werror test_protocol.c -o t && ./t test_vectors.txt`.
 * Prints one line per failure and a summary; exit code 0 only if every vector passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanobot_esp32_protocol.h"

#define MAX_BYTES 8192
#define LINE_CHARS (4 * MAX_BYTES)

static int failures, checked;

static size_t unhex(const char *text, uint8_t *out)
{
    size_t n = 0;
    if (strcmp(text, "-") == 0)
        return 0;
    for (; text[0] && text[1] && n < MAX_BYTES; text += 2) {
        unsigned byte;
        if (sscanf(text, "%2x", &byte) != 1)
            break;
        out[n++] = (uint8_t)byte;
    }
    return n;
}

static void check(int ok, int line, const char *what)
{
    checked++;
    if (!ok) {
        failures++;
        printf("FAIL line %d: %s\n", line, what);
    }
}

static int reason_code(const char *reason)
{
    static const char *names[] = {"oversize", "cobs_errors", "short_frames", "crc_errors",
                                  "version_errors", "length_errors", "unknown_types"};
    for (int i = 0; i < 7; i++)
        if (strcmp(reason, names[i]) == 0)
            return -(i + 1);
    return 0;
}

static uint8_t a[MAX_BYTES], b[MAX_BYTES], c[MAX_BYTES];
static nb_frame_t frame;
static nb_rx_t rx;

static void check_stream(int line, const char *stream_hex, const char *expected)
{
    char got[LINE_CHARS] = "";
    size_t n = unhex(stream_hex, a);
    nb_rx_init(&rx);
    for (size_t i = 0; i < n; i++) {
        nb_frame_t *f;
        if (nb_rx_push(&rx, a[i], &f) == NB_OK) {
            char seq[16];
            snprintf(seq, sizeof seq, got[0] ? ",%lu" : "%lu", (unsigned long)f->sequence);
            strcat(got, seq);
        }
    }
    if (!got[0])
        strcpy(got, "-");
    check(strcmp(got, expected) == 0, line, "stream delivers the expected sequences");
}

/*
 * A line flooded with garbage (no delimiter for many buffers' worth), then one valid frame:
 * the frame is delivered, NB_ERR_OVERSIZE is reported once, and every garbage byte is counted
 * as dropped. `fill` 0 draws random nonzero bytes, else every garbage byte is `fill`.
 */
static void check_flood(uint8_t fill, size_t garbage)
{
    static const uint8_t payload[] = {0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x3f};
    uint32_t state = 20261127u;
    size_t wire = nb_frame_encode(NB_TYPE_TELEMETRY, 4242, payload, sizeof payload, c, sizeof c);
    int oversize = 0, delivered = 0;
    nb_frame_t *f = NULL;
    nb_rx_init(&rx);
    for (size_t i = 0; i < garbage; i++) {
        state = state * 1664525u + 1013904223u;
        oversize += nb_rx_push(&rx, fill ? fill : (uint8_t)(1 + (state >> 24) % 255), &f)
                    == NB_ERR_OVERSIZE;
    }
    for (size_t i = 0; i < wire; i++)
        delivered += nb_rx_push(&rx, c[i], &f) == NB_OK;
    check(wire > 0 && delivered == 1 && f->sequence == 4242 && f->length == sizeof payload
          && memcmp(f->payload, payload, sizeof payload) == 0, 0,
          "a frame right after a long run of garbage is delivered");
    check(oversize == 1, 0, "NB_ERR_OVERSIZE once per over-long run");
    check(rx.dropped == garbage, 0, "every garbage byte is counted in dropped");
}

int main(int argc, char **argv)
{
    static char text[LINE_CHARS];
    FILE *file;
    int line = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s test_vectors.txt\n", argv[0]);
        return 2;
    }
    file = fopen(argv[1], "r");
    if (!file) {
        perror(argv[1]);
        return 2;
    }
    while (fgets(text, sizeof text, file)) {
        char *kind, *f1, *f2, *f3, *f4;
        line++;
        text[strcspn(text, "\n")] = 0;
        kind = strtok(text, " ");
        if (!kind || kind[0] == '#')
            continue;
        f1 = strtok(NULL, " "); f2 = strtok(NULL, " ");
        f3 = strtok(NULL, " "); f4 = strtok(NULL, " ");
        if (strcmp(kind, "crc32") == 0) {
            size_t n = unhex(f1, a);
            check(nb_crc32(a, n) == (uint32_t)strtoul(f2, NULL, 16), line, "crc32");
        } else if (strcmp(kind, "cobs") == 0) {
            size_t n = unhex(f1, a), m = unhex(f2, b), e = nb_cobs_encode(a, n, c, sizeof c);
            int d;
            check(e == m && memcmp(c, b, m) == 0, line, "cobs encode");
            d = nb_cobs_decode(b, m, c, sizeof c);
            check(d == (int)n && memcmp(c, a, n) == 0, line, "cobs decode");
        } else if (strcmp(kind, "frame") == 0) {
            uint8_t type = (uint8_t)atoi(f1);
            uint32_t seq = (uint32_t)strtoul(f2, NULL, 10);
            size_t n = unhex(f3, a), m = unhex(f4, b);
            size_t e = nb_frame_encode(type, seq, a, n, c, sizeof c);
            check(e == m && memcmp(c, b, m) == 0, line, "frame encode");
            check(nb_frame_parse(b, m - 1, &frame) == NB_OK && frame.type == type
                  && frame.sequence == seq && frame.length == n
                  && memcmp(frame.payload, a, n) == 0, line, "frame parse");
        } else if (strcmp(kind, "reject") == 0) {
            size_t n = unhex(f2, a);
            int code = reason_code(f1);
            check(code != 0 && nb_frame_parse(a, n, &frame) == code, line, f1);
        } else if (strcmp(kind, "stream") == 0) {
            check_stream(line, f1, f2);
        } else {
            check(0, line, "unknown vector kind");
        }
    }
    fclose(file);
    check_flood(0, 20 * NB_MAX_ENCODED + 7);
    check_flood(0x01, 3 * NB_MAX_ENCODED);
    check_flood(0x03, 3 * NB_MAX_ENCODED + 1);
    printf("%d vectors checked, %d failed\n", checked, failures);
    return failures || checked == 0 ? 1 : 0;
}
