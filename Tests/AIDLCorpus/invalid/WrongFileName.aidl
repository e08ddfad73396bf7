// error: does not match the declared type IRight
interface IRight { }
