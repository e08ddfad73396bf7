// error: does not fit the byte backing type
enum ByteOverflow { A = 100, B = 200 }
