"""ROS glue: message conversion and the node classes.  Everything here imports rospy/cv_bridge."""
