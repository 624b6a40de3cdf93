/*
 * nanobot ESP32 serial protocol, version 1: the firmware side (header-only, C99, no malloc).
 *
 * The C twin of nanobot_ros/robots/esp32_protocol.py. Both are checked against
 * firmware/test_vectors.txt (firmware/test_protocol.c here,
 * test/robots/esp32/test_esp32_protocol.py there).
 *
 * Wire: every frame is COBS-encoded and followed by one 0x00 delimiter. Decoded frame
 * (little-endian integers, IEEE-754 binary32 little-endian floats):
 *
 *   offset size field
 *   0      1    version   NB_PROTOCOL_VERSION
 *   1      1    type      NB_TYPE_*
 *   2      4    sequence  u32, per sender, +1 per frame of any type
 *   6      2    length    payload bytes (<= NB_MAX_PAYLOAD)
 *   8      n    payload
 *   8+n    4    crc       CRC-32 (IEEE 802.3, as zlib.crc32) of bytes 0 .. 8+n-1
 *
 * Payloads: TELEMETRY / SURFACE u32 device_ms + float32 x k; MOTOR float32 x m (-1 .. 1);
 * HEARTBEAT u32 sender_ms, u32 frames_ok, u32 frames_bad, u8 flags; DESCRIBE (device -> host)
 * the TELEMETRY channel names, UTF-8, '\n'-separated, sent at boot and in answer to an empty
 * DESCRIBE from the host.
 *
 * Firmware contract: stop every motor when no valid frame (any type) arrived for
 * NB_WATCHDOG_MS (or the timeout the firmware documents), send a HEARTBEAT at least every
 * 100 ms with NB_FLAG_WATCHDOG_STOPPED set while the watchdog holds the motors, and never
 * apply a MOTOR value that is not finite; clamp finite values to -1 .. 1. Send a DESCRIBE
 * frame (the TELEMETRY channel names) at boot and whenever an empty DESCRIBE arrives.
 *
 * Usage on the device:
 *   static nb_rx_t rx;  nb_rx_init(&rx);
 *   for each byte b from the UART:
 *     nb_frame_t *f;  if (nb_rx_push(&rx, b, &f) == NB_OK) handle(f);
 *   size_t n = nb_frame_encode(NB_TYPE_TELEMETRY, seq++, payload, len, buf, sizeof buf);
 */
#ifndef NANOBOT_ESP32_PROTOCOL_H
#define NANOBOT_ESP32_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NB_PROTOCOL_VERSION 1u
#define NB_HEADER_SIZE 8u
#define NB_CRC_SIZE 4u
#define NB_MAX_PAYLOAD 1024u
#define NB_MAX_FRAME (NB_HEADER_SIZE + NB_MAX_PAYLOAD + NB_CRC_SIZE)
/* COBS adds one byte per 254 and one at the start; the delimiter is not counted. */
#define NB_MAX_ENCODED (NB_MAX_FRAME + NB_MAX_FRAME / 254u + 1u)
#define NB_WATCHDOG_MS 200u

#define NB_TYPE_TELEMETRY 1u
#define NB_TYPE_SURFACE 2u
#define NB_TYPE_MOTOR 3u
#define NB_TYPE_HEARTBEAT 4u
#define NB_TYPE_DESCRIBE 5u

#define NB_FLAG_WATCHDOG_STOPPED 0x01u
#define NB_FLAG_MOTORS_ON 0x02u

/* Results; the negative ones name the counter the Python decoder uses for the same fault. */
#define NB_OK 0
#define NB_MORE 1               /* nb_rx_push: no complete frame yet */
#define NB_ERR_OVERSIZE (-1)    /* oversize */
#define NB_ERR_COBS (-2)        /* cobs_errors */
#define NB_ERR_SHORT (-3)       /* short_frames */
#define NB_ERR_CRC (-4)         /* crc_errors */
#define NB_ERR_VERSION (-5)     /* version_errors */
#define NB_ERR_LENGTH (-6)      /* length_errors */
#define NB_ERR_TYPE (-7)        /* unknown_types */

typedef struct {
    uint8_t version;
    uint8_t type;
    uint32_t sequence;
    uint16_t length;
    uint8_t payload[NB_MAX_PAYLOAD];
} nb_frame_t;

static inline uint32_t nb_crc32(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

/* COBS-encode src into dst (no delimiter); returns the encoded length, 0 if dst is too small. */
static inline size_t nb_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    size_t out = 1, code_at = 0;
    uint8_t code = 1;
    if (cap < 1)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_at] = code;
            code = 1;
            code_at = out++;
            if (out > cap)
                return 0;
            continue;
        }
        if (out >= cap)
            return 0;
        dst[out++] = src[i];
        if (++code == 0xFF) {
            dst[code_at] = code;
            code = 1;
            /* canonical COBS: a full block at the very end gets no empty block after it */
            if (i + 1 == len)
                return out;
            code_at = out++;
            if (out > cap)
                return 0;
        }
    }
    dst[code_at] = code;
    return out;
}

/* Decode one COBS block (no delimiter) into dst; returns the length or NB_ERR_COBS. */
static inline int nb_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
    size_t i = 0, out = 0;
    if (len == 0)
        return NB_ERR_COBS;
    while (i < len) {
        uint8_t code = src[i];
        if (code == 0 || i + code > len)
            return NB_ERR_COBS;
        for (size_t j = i + 1; j < i + code; j++) {
            if (src[j] == 0 || out >= cap)
                return NB_ERR_COBS;
            dst[out++] = src[j];
        }
        i += code;
        if (code != 0xFF && i < len) {
            if (out >= cap)
                return NB_ERR_COBS;
            dst[out++] = 0;
        }
    }
    return (int)out;
}

static inline void nb_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t nb_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Build the wire bytes (COBS + 0x00) of one frame into out; returns their count, 0 on error. */
static inline size_t nb_frame_encode(uint8_t type, uint32_t sequence, const uint8_t *payload,
                                     size_t len, uint8_t *out, size_t cap)
{
    uint8_t raw[NB_MAX_FRAME];
    size_t n;
    if (len > NB_MAX_PAYLOAD)
        return 0;
    raw[0] = NB_PROTOCOL_VERSION;
    raw[1] = type;
    nb_put_u32(raw + 2, sequence);
    raw[6] = (uint8_t)len;
    raw[7] = (uint8_t)(len >> 8);
    if (len)
        memcpy(raw + NB_HEADER_SIZE, payload, len);
    nb_put_u32(raw + NB_HEADER_SIZE + len, nb_crc32(raw, NB_HEADER_SIZE + len));
    if (cap < 1)
        return 0;
    n = nb_cobs_encode(raw, NB_HEADER_SIZE + len + NB_CRC_SIZE, out, cap - 1);
    if (n == 0)
        return 0;
    out[n] = 0;
    return n + 1;
}

/* Check one COBS block (delimiter removed) and fill *frame; returns NB_OK or an NB_ERR_*. */
static inline int nb_frame_parse(const uint8_t *encoded, size_t len, nb_frame_t *frame)
{
    uint8_t raw[NB_MAX_FRAME];
    int n;
    size_t body;
    if (len > NB_MAX_ENCODED)
        return NB_ERR_OVERSIZE;
    n = nb_cobs_decode(encoded, len, raw, sizeof raw);
    if (n < 0)
        return n;
    if ((size_t)n < NB_HEADER_SIZE + NB_CRC_SIZE)
        return NB_ERR_SHORT;
    body = (size_t)n - NB_CRC_SIZE;
    if (nb_crc32(raw, body) != nb_get_u32(raw + body))
        return NB_ERR_CRC;
    if (raw[0] != NB_PROTOCOL_VERSION)
        return NB_ERR_VERSION;
    if ((size_t)(raw[6] | raw[7] << 8) != body - NB_HEADER_SIZE)
        return NB_ERR_LENGTH;
    if (raw[1] < NB_TYPE_TELEMETRY || raw[1] > NB_TYPE_DESCRIBE)
        return NB_ERR_TYPE;
    frame->version = raw[0];
    frame->type = raw[1];
    frame->sequence = nb_get_u32(raw + 2);
    frame->length = (uint16_t)(body - NB_HEADER_SIZE);
    memcpy(frame->payload, raw + NB_HEADER_SIZE, frame->length);
    return NB_OK;
}

/*
 * Streaming receiver: feed bytes one at a time. Each byte costs O(1): it is stored in a ring
 * of NB_MAX_ENCODED bytes (an over-long run overwrites its oldest byte, counted in `dropped`);
 * the work of a frame is done once, at its 0x00 delimiter.
 */
typedef struct {
    uint8_t buffer[NB_MAX_ENCODED];
    size_t head;          /* index of the oldest byte kept */
    size_t fill;          /* bytes kept since the last delimiter */
    int overflowing;      /* this run outgrew the buffer: only its tail is kept */
    uint32_t dropped;     /* bytes not part of a delivered frame (garbage, bad frames) */
    nb_frame_t frame;
} nb_rx_t;

static inline void nb_rx_init(nb_rx_t *rx)
{
    rx->head = 0;
    rx->fill = 0;
    rx->overflowing = 0;
    rx->dropped = 0;
}

static inline void nb_reverse(uint8_t *data, size_t len)
{
    for (size_t i = 0, j = len; i + 1 < j; i++, j--) {
        uint8_t t = data[i];
        data[i] = data[j - 1];
        data[j - 1] = t;
    }
}

/*
 * Could a frame start at src[0] and end exactly at src[len]? Decodes only its 8-byte header
 * (two nonzero bytes first: version and type, so the COBS code is >= 3) and checks that the
 * length field agrees with len, COBS adding at most one byte per 254. Rejects nearly every
 * wrong offset in O(1), so that a block of garbage costs O(its length), not O(length^2).
 */
static inline int nb_rx_plausible(const uint8_t *src, size_t len)
{
    uint8_t head[NB_HEADER_SIZE];
    size_t i = 0, out = 0, decoded;
    if (len < 3 || src[0] < 3 || src[1] != NB_PROTOCOL_VERSION
            || src[2] < NB_TYPE_TELEMETRY || src[2] > NB_TYPE_DESCRIBE)
        return 0;
    while (out < NB_HEADER_SIZE && i < len) {
        uint8_t code = src[i];
        if (code == 0 || i + code > len)
            return 0;
        for (size_t j = i + 1; j < i + code && out < NB_HEADER_SIZE; j++)
            head[out++] = src[j];
        i += code;
        if (code != 0xFF && out < NB_HEADER_SIZE && i < len)
            head[out++] = 0;
    }
    if (out < NB_HEADER_SIZE)
        return 0;
    decoded = NB_HEADER_SIZE + (size_t)(head[6] | head[7] << 8) + NB_CRC_SIZE;
    return decoded < len && decoded + 1 + len / 254u >= len;
}

/*
 * A block whose start is damaged (its sender truncated the previous frame, or a delimiter was
 * hit) may hold a whole frame at its tail: try the offsets from `first` on where an encoded
 * header could start; the CRC decides. Same rule as the Python decoder. Returns the offset of
 * the frame found, or rx->fill.
 */
static inline size_t nb_rx_recover_tail(nb_rx_t *rx, size_t first)
{
    for (size_t start = first; start + 2 < rx->fill; start++) {
        if (nb_rx_plausible(rx->buffer + start, rx->fill - start)
                && nb_frame_parse(rx->buffer + start, rx->fill - start, &rx->frame) == NB_OK)
            return start;
    }
    return rx->fill;
}

/*
 * Push one received byte. Returns NB_OK with *frame set when it completed a valid frame,
 * NB_MORE while a frame is incomplete (or between frames), or an NB_ERR_* when it completed a
 * frame that was dropped (count it). Memory stays bounded: of an over-long run only the last
 * NB_MAX_ENCODED bytes are kept (NB_ERR_OVERSIZE is returned once when it starts), and a
 * whole frame at its tail is still delivered.
 */
static inline int nb_rx_push(nb_rx_t *rx, uint8_t byte, nb_frame_t **frame)
{
    int result;
    size_t start;
    if (byte != 0) {
        size_t at = rx->head + rx->fill;
        if (at >= NB_MAX_ENCODED)
            at -= NB_MAX_ENCODED;
        rx->buffer[at] = byte;
        if (rx->fill < NB_MAX_ENCODED) {
            rx->fill++;
            return NB_MORE;
        }
        /* full: the byte just written replaced the oldest one */
        rx->head = at + 1 == NB_MAX_ENCODED ? 0 : at + 1;
        rx->dropped++;
        if (rx->overflowing)
            return NB_MORE;
        rx->overflowing = 1;
        return NB_ERR_OVERSIZE;
    }
    if (rx->fill == 0)
        return NB_MORE;
    if (rx->head != 0) {
        /* Unwrap the ring in place (rotate left by head), once per over-long run. */
        nb_reverse(rx->buffer, rx->head);
        nb_reverse(rx->buffer + rx->head, NB_MAX_ENCODED - rx->head);
        nb_reverse(rx->buffer, NB_MAX_ENCODED);
    }
    if (rx->overflowing) {
        start = nb_rx_recover_tail(rx, 0);
        result = start < rx->fill ? NB_OK : NB_MORE;
    } else {
        result = nb_frame_parse(rx->buffer, rx->fill, &rx->frame);
        start = 0;
        if (result != NB_OK) {
            start = nb_rx_recover_tail(rx, 1);
            if (start < rx->fill)
                result = NB_OK;  /* the damaged head is dropped (counted in `dropped`) */
        }
    }
    /* as the Python decoder's bytes_discarded: a block without a frame costs its delimiter too */
    rx->dropped += (uint32_t)(start < rx->fill ? start : rx->fill + 1);
    rx->head = 0;
    rx->fill = 0;
    rx->overflowing = 0;
    *frame = &rx->frame;
    return result;
}

#endif /* NANOBOT_ESP32_PROTOCOL_H */
