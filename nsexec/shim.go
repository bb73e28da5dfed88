package nsexec

// Temporary until the shared header lands (branch c-split).
const MsgPlan = MsgConfig

// StampFD is -1 until the C side passes it on.
func StampFD() int { return -1 }
