// error: unexpected character '#'
interface IBadCharacter { # }
