// error: overflows an int
interface IConstOverflow { const int X = 2147483647 + 1; }
