// The driver's ioctl numbers and struct layouts against the kernel headers. The expected numbers
// are what gcc prints for the header macros on this machine (see fake-kernel.ts); computing them
// in the driver from _IOR/_IOWR must give exactly these.

import { describe, expect, it } from "vitest";
import * as gpio from "../../services/watchdog/gpio-uapi.ts";
import * as i2c from "../../services/watchdog/i2c-uapi.ts";
import { ioc, iocSize, IOC_READ, IOC_WRITE } from "../../services/watchdog/ioctl.ts";
import * as wd from "../../services/watchdog/linux-uapi.ts";
import { GPIO, I2C, WD } from "./fake-kernel.ts";

describe("ioctl request numbers equal the kernel headers'", () => {
  it("watchdog.h: WDIOC_*", () => {
    expect(wd.WDIOC_GETSUPPORT).toBe(WD.GETSUPPORT);
    expect(wd.WDIOC_SETOPTIONS).toBe(WD.SETOPTIONS);
    expect(wd.WDIOC_KEEPALIVE).toBe(WD.KEEPALIVE);
    expect(wd.WDIOC_SETTIMEOUT).toBe(WD.SETTIMEOUT);
    expect(wd.WDIOC_GETTIMEOUT).toBe(WD.GETTIMEOUT);
    expect(wd.WDIOC_GETTIMELEFT).toBe(WD.GETTIMELEFT);
    expect(wd.WDIOC_GETSTATUS).toBe(WD.GETSTATUS);
    expect(wd.WDIOC_GETBOOTSTATUS).toBe(WD.GETBOOTSTATUS);
  });

  it("gpio.h: GPIO_GET_CHIPINFO_IOCTL and the v2 line ioctls", () => {
    expect(gpio.GPIO_GET_CHIPINFO_IOCTL).toBe(GPIO.GET_CHIPINFO);
    expect(gpio.GPIO_V2_GET_LINE_IOCTL).toBe(GPIO.V2_GET_LINE);
    expect(gpio.GPIO_V2_LINE_SET_VALUES_IOCTL).toBe(GPIO.V2_LINE_SET_VALUES);
    expect(gpio.GPIO_V2_LINE_GET_VALUES_IOCTL).toBe(GPIO.V2_LINE_GET_VALUES);
  });

  it("i2c-dev.h: I2C_SLAVE, I2C_FUNCS, I2C_SLAVE_FORCE", () => {
    expect(i2c.I2C_SLAVE).toBe(I2C.SLAVE);
    expect(i2c.I2C_FUNCS).toBe(I2C.FUNCS);
    expect(i2c.I2C_SLAVE_FORCE).toBe(I2C.SLAVE_FORCE);
  });

  it("_IOC packs direction, size, type and nr; _IOC_SIZE reads the size back", () => {
    expect(ioc(IOC_READ | IOC_WRITE, 0xb4, 0x07, 592)).toBe(0xc250b407);
    expect(iocSize(WD.GETSUPPORT)).toBe(40);
    expect(iocSize(GPIO.V2_GET_LINE)).toBe(592);
    expect(() => ioc(IOC_READ, 0x57, 0, 1 << 14)).toThrow(/14 bits/);
  });
});

describe("struct layouts", () => {
  it("struct watchdog_info: options @0, firmware_version @4, identity[32] @8, 40 bytes", () => {
    const bytes = wd.encodeWatchdogInfo({ options: 0x8180, firmware_version: 7, identity: "iTCO_wdt" });
    expect(bytes.length).toBe(40);
    expect([...bytes.subarray(0, 8)]).toEqual([0x80, 0x81, 0, 0, 7, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 16))).toBe("iTCO_wdt");
    expect(wd.decodeWatchdogInfo(bytes)).toEqual({ options: 0x8180, firmware_version: 7, identity: "iTCO_wdt" });
    expect(wd.optionNames(0x8180)).toEqual(["SETTIMEOUT", "MAGICCLOSE", "KEEPALIVEPING"]);
  });

  it("struct gpio_v2_line_request: offsets @0, consumer @256, config @288 (flags, num_attrs @+8, attrs @+32 × 24), num_lines @560, fd @588", () => {
    const bytes = gpio.encodeOutputRequest(
      [
        { offset: 17, active_low: false, initial_active: false },
        { offset: 22, active_low: true, initial_active: true },
      ],
      "hapd-watchdog",
      "open-drain",
    );
    const v = new DataView(bytes.buffer);
    expect(bytes.length).toBe(592);
    expect(v.getUint32(0, true)).toBe(17);
    expect(v.getUint32(4, true)).toBe(22);
    expect(new TextDecoder().decode(bytes.subarray(256, 269))).toBe("hapd-watchdog");
    expect(bytes[269]).toBe(0);
    expect(v.getBigUint64(288, true)).toBe((1n << 3n) | (1n << 6n)); // OUTPUT | OPEN_DRAIN
    expect(v.getUint32(296, true)).toBe(2); // num_attrs
    // attrs[0]: FLAGS for line index 1 (active low)
    expect(v.getUint32(320, true)).toBe(1);
    expect(v.getBigUint64(328, true)).toBe((1n << 3n) | (1n << 6n) | (1n << 1n));
    expect(v.getBigUint64(336, true)).toBe(0b10n);
    // attrs[1]: OUTPUT_VALUES, index 1 active, mask both
    expect(v.getUint32(344, true)).toBe(2);
    expect(v.getBigUint64(352, true)).toBe(0b10n);
    expect(v.getBigUint64(360, true)).toBe(0b11n);
    expect(v.getUint32(560, true)).toBe(2);
    expect(bytes.subarray(564, 592).every((b) => b === 0)).toBe(true); // event_buffer_size, padding, fd
  });

  it("struct gpio_v2_line_values: bits @0, mask @8", () => {
    const bytes = gpio.encodeLineValues(0b01n, 0b11n);
    expect([...bytes]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
  });
});
