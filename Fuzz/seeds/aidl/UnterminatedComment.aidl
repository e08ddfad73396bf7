// error: unterminated comment
interface UnterminatedComment { /* never closed }
