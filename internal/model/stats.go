package model

import "time"

// ChassisStats is what an agent reports of its chassis for operators (the
// web console): the flows it installed on br-int and the ports bound there.
// It is written when they change; Chassis liveness is the heartbeat key's.
type ChassisStats struct {
	Flows     int       `json:"flows"`
	Ports     int       `json:"ports"`
	UpdatedAt time.Time `json:"updated_at"`
}
