import struct
def hx(b): return ' '.join(b[i:i+4].hex() for i in range(0,len(b),4))
# (a) RpcConnectionHeader: <I B B 8s H
hdr = struct.pack('<IBB8sH', 1, 0, 0, b'\0'*8, 0); assert len(hdr)==16
cci = b'cci\0' + b'\0'*4
resp = struct.pack('<I4s', 1, b'\0'*4)
print('a header', hx(hdr)); print('a cci', hx(cci)); print('a resp', hx(resp))
def wh(cmd, size): return struct.pack('<III8s', cmd, size, 0, b'\0'*8)[:16] if False else struct.pack('<IIII', cmd, size, 0, 0)
def tx(addr, code, flags, asyncn, parcel, objs=b''):
    body = struct.pack('<QIIQI12s', addr, code, flags, asyncn, len(parcel), b'\0'*12)
    assert len(body)==40
    body += parcel + objs
    return wh(0, len(body)) + body
def reply(status, parcel, v=1):
    rw = struct.pack('<iI12s', status, len(parcel), b'\0'*12) if v>=1 else struct.pack('<i', status)
    body = rw + parcel
    return wh(1, len(body)) + body
print('b tx', hx(tx(0,0,0,0,b'')))
rootp = struct.pack('<iQi', 1, 3, 0x0c); print(len(rootp))
print('b reply', hx(reply(0, rootp)))
print('b reply v0', hx(reply(0, rootp, 0)))
print('maxthreads', hx(tx(0,1,0,0,b'')), '|', hx(reply(0, struct.pack('<i',1))))
print('c tx', hx(tx(3,1,0,0,struct.pack('<i',42))), len(tx(3,1,0,0,struct.pack('<i',42))))
dec = wh(2,16) + struct.pack('<QII', 3, 1, 0)
print('dec', hx(dec))
print('empty reply', hx(reply(0,b'')))
print('aidl ok reply', hx(reply(0,struct.pack('<i',0))))
