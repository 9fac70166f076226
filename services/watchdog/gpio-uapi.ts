// The Linux GPIO character device, v2 uAPI (include/uapi/linux/gpio.h, served by
// drivers/gpio/gpiolib-cdev.c): one ioctl on the chip to request lines, which returns a new file
// descriptor for them; SET_VALUES on that descriptor drives them. Struct offsets below are the
// header's layout on x86_64 and arm64 (the structs are padded by the header itself to be
// identical on 32 and 64 bits).

import { ior, iowr } from "./ioctl.ts";
import { view } from "./kernel-port.ts";

const GPIO_IOCTL_TYPE = 0xb4;
const GPIO_MAX_NAME_SIZE = 32;
export const GPIO_V2_LINES_MAX = 64;
const GPIO_V2_LINE_NUM_ATTRS_MAX = 10;

/** struct gpiochip_info { char name[32]; char label[32]; __u32 lines; } — sizeof 68. */
export const GPIOCHIP_INFO_SIZE = 68;
const CHIPINFO_NAME = 0;
const CHIPINFO_LABEL = 32;
const CHIPINFO_LINES = 64;

/**
 * struct gpio_v2_line_request — sizeof 592:
 *   __u32 offsets[64]            @0
 *   char consumer[32]            @256
 *   struct gpio_v2_line_config   @288 (sizeof 272)
 *   __u32 num_lines              @560
 *   __u32 event_buffer_size      @564
 *   __u32 padding[5]             @568 (must be zero)
 *   __s32 fd                     @588 (written by the kernel)
 */
export const LINE_REQUEST_SIZE = 592;
export const REQ_OFFSETS = 0;
export const REQ_CONSUMER = 256;
export const REQ_CONFIG = 288;
export const REQ_NUM_LINES = 560;
export const REQ_FD = 588;

/**
 * struct gpio_v2_line_config — sizeof 272, at REQ_CONFIG:
 *   __aligned_u64 flags          @0
 *   __u32 num_attrs              @8
 *   __u32 padding[5]             @12 (must be zero)
 *   struct gpio_v2_line_config_attribute attrs[10] @32, 24 bytes each:
 *     struct gpio_v2_line_attribute attr  @0 { __u32 id @0; __u32 padding @4; union { flags, values: __aligned_u64; debounce_period_us: __u32 } @8 }
 *     __aligned_u64 mask                  @16
 */
export const CFG_FLAGS = 0;
export const CFG_NUM_ATTRS = 8;
export const CFG_ATTRS = 32;
export const CFG_ATTR_SIZE = 24;
export const ATTR_ID = 0;
export const ATTR_VALUE = 8;
export const ATTR_MASK = 16;

/** struct gpio_v2_line_values { __aligned_u64 bits @0; __aligned_u64 mask @8; } — sizeof 16. */
export const LINE_VALUES_SIZE = 16;

export const GPIO_GET_CHIPINFO_IOCTL = ior(GPIO_IOCTL_TYPE, 0x01, GPIOCHIP_INFO_SIZE);
export const GPIO_V2_GET_LINE_IOCTL = iowr(GPIO_IOCTL_TYPE, 0x07, LINE_REQUEST_SIZE);
export const GPIO_V2_LINE_GET_VALUES_IOCTL = iowr(GPIO_IOCTL_TYPE, 0x0e, LINE_VALUES_SIZE);
export const GPIO_V2_LINE_SET_VALUES_IOCTL = iowr(GPIO_IOCTL_TYPE, 0x0f, LINE_VALUES_SIZE);

/** enum gpio_v2_line_flag (_BITULL(n)). */
export const GPIO_V2_LINE_FLAG = {
  USED: 1n << 0n,
  ACTIVE_LOW: 1n << 1n,
  INPUT: 1n << 2n,
  OUTPUT: 1n << 3n,
  EDGE_RISING: 1n << 4n,
  EDGE_FALLING: 1n << 5n,
  OPEN_DRAIN: 1n << 6n,
  OPEN_SOURCE: 1n << 7n,
  BIAS_PULL_UP: 1n << 8n,
  BIAS_PULL_DOWN: 1n << 9n,
  BIAS_DISABLED: 1n << 10n,
} as const;

/** enum gpio_v2_line_attr_id. */
export const GPIO_V2_LINE_ATTR_ID_FLAGS = 1;
export const GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES = 2;

export type Drive = "push-pull" | "open-drain" | "open-source";

export type OutputLine = {
  /** Line offset on the chip. */
  offset: number;
  active_low: boolean;
  /** Logical value at request time (true = active). */
  initial_active: boolean;
};

const DRIVE_FLAG: Record<Drive, bigint> = { "push-pull": 0n, "open-drain": GPIO_V2_LINE_FLAG.OPEN_DRAIN, "open-source": GPIO_V2_LINE_FLAG.OPEN_SOURCE };

/** A request for output lines; bit i of every mask and value is lines[i]. */
export function encodeOutputRequest(lines: OutputLine[], consumer: string, drive: Drive): Uint8Array {
  if (lines.length < 1 || lines.length > GPIO_V2_LINES_MAX) throw new RangeError(`a line request holds 1..${GPIO_V2_LINES_MAX} lines, not ${lines.length}`);
  const bytes = new Uint8Array(LINE_REQUEST_SIZE);
  const v = view(bytes);
  lines.forEach((line, i) => v.setUint32(REQ_OFFSETS + 4 * i, line.offset, true));
  bytes.set(new TextEncoder().encode(consumer).subarray(0, GPIO_MAX_NAME_SIZE - 1), REQ_CONSUMER);
  const base = GPIO_V2_LINE_FLAG.OUTPUT | DRIVE_FLAG[drive];
  v.setBigUint64(REQ_CONFIG + CFG_FLAGS, base, true);

  const attrs: { id: number; value: bigint; mask: bigint }[] = [];
  const activeLowMask = maskOf(lines, (line) => line.active_low);
  // The config's flags apply to every line; an attribute overrides them for the lines in its mask.
  if (activeLowMask !== 0n) attrs.push({ id: GPIO_V2_LINE_ATTR_ID_FLAGS, value: base | GPIO_V2_LINE_FLAG.ACTIVE_LOW, mask: activeLowMask });
  // Without OUTPUT_VALUES the kernel drives new outputs inactive; say so explicitly for every line.
  attrs.push({ id: GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES, value: maskOf(lines, (line) => line.initial_active), mask: maskOf(lines, () => true) });
  if (attrs.length > GPIO_V2_LINE_NUM_ATTRS_MAX) throw new RangeError("too many line attributes");
  v.setUint32(REQ_CONFIG + CFG_NUM_ATTRS, attrs.length, true);
  attrs.forEach((attr, i) => {
    const at = REQ_CONFIG + CFG_ATTRS + i * CFG_ATTR_SIZE;
    v.setUint32(at + ATTR_ID, attr.id, true);
    v.setBigUint64(at + ATTR_VALUE, attr.value, true);
    v.setBigUint64(at + ATTR_MASK, attr.mask, true);
  });
  v.setUint32(REQ_NUM_LINES, lines.length, true);
  return bytes;
}

function maskOf(lines: OutputLine[], pick: (line: OutputLine) => boolean): bigint {
  let mask = 0n;
  lines.forEach((line, i) => {
    if (pick(line)) mask |= 1n << BigInt(i);
  });
  return mask;
}

/** The fd the kernel wrote into a successful request. */
export function requestFd(request: Uint8Array): number {
  return view(request).getInt32(REQ_FD, true);
}

/** struct gpio_v2_line_values: set the lines in `mask` to the logical values in `bits`. */
export function encodeLineValues(bits: bigint, mask: bigint): Uint8Array {
  const bytes = new Uint8Array(LINE_VALUES_SIZE);
  const v = view(bytes);
  v.setBigUint64(0, bits, true);
  v.setBigUint64(8, mask, true);
  return bytes;
}

export type ChipInfo = { name: string; label: string; lines: number };

export function decodeChipInfo(bytes: Uint8Array): ChipInfo {
  const text = (at: number) => {
    const raw = bytes.subarray(at, at + GPIO_MAX_NAME_SIZE);
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw);
  };
  return { name: text(CHIPINFO_NAME), label: text(CHIPINFO_LABEL), lines: view(bytes).getUint32(CHIPINFO_LINES, true) };
}
