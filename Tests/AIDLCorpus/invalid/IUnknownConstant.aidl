// error: unknown constant 'NOPE'
interface IUnknownConstant { const int X = NOPE + 1; }
