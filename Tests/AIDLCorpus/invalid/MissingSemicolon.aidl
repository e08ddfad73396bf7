// error: expected ';'
interface MissingSemicolon { void f() }
