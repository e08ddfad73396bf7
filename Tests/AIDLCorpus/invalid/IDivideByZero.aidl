// error: division by zero
interface IDivideByZero { const int X = 1 / (2 - 2); }
