// error: defined in terms of itself
interface ICircularConstant { const int A = B; const int B = A; }
